"""`tessera discounts` and `tessera discount create|show|pause|resume` against a real published bakery:
amounts in pounds, times in the shop's own zone (Europe/London), refusals as messages."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tessera.cli import main


@pytest.fixture(name="run", scope="module")
def fx_run(tmp_path_factory):
    data = tmp_path_factory.mktemp("discounts") / "data"
    runner = CliRunner(env={"TESSERA_DATA_DIR": str(data)})

    def run(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    assert run("tenant", "create", "deli", "--name", "Deli", "--features", "cms,ecommerce",
               "--from", "bakery").exit_code == 0
    assert run("publish", "deli").exit_code == 0  # the catalog: product names, GBP, Europe/London
    made = run("tenant", "create", "journal", "--name", "Journal", "--features", "cms")
    assert made.exit_code == 0, made.output
    return run


def listed(run) -> dict[str, dict]:
    result = run("discounts", "deli", "--json")
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.output)}


def test_create_list_show_pause_and_resume(run):
    made = run("discount", "create", "deli", "welcome10", "--percent", "12.5", "--min-subtotal", "20.00",
               "--limit", "100", "--per-email", "1", "--starts", "2027-03-01 09:00", "--ends", "2027-03-31 23:59")
    assert made.exit_code == 0, made.output
    assert "Created WELCOME10: 12.5 % off the order (orders of £20.00 or more; 1 per email address)" in made.output
    rye = run("discount", "create", "deli", "RYE5", "--amount", "5.00", "--products", "dark-rye", "--combines")
    assert rye.exit_code == 0, rye.output
    assert "£5.00 off Dark Rye" in rye.output
    assert run("discount", "create", "deli", "SHIPFREE", "--free-shipping").exit_code == 0

    rows = listed(run)
    welcome = rows["WELCOME10"]
    assert welcome["value"] == 1250 and welcome["min_subtotal"] == 2000 and welcome["usage_limit"] == 100
    # 09:00 in London on 1 March is 09:00 UTC; 23:59 on 31 March is summer time, 22:59 UTC.
    assert welcome["starts_at"] == "2027-03-01T09:00:00+00:00" and welcome["ends_at"] == "2027-03-31T22:59:00+00:00"
    assert welcome["window"] == "2027-03-01 09:00 to 2027-03-31 23:59" and welcome["used"] == "0 / 100"
    assert rows["RYE5"]["products"] == ["dark-rye"] and rows["RYE5"]["combines"] is True
    assert rows["SHIPFREE"]["takes_off"] == "free shipping"

    table = run("discounts", "deli").output.splitlines()  # piped: tab-separated, nothing cut
    assert table[0] == "discount\ttakes off\tconditions\twindow (Europe/London)\tused\tstatus"
    assert "WELCOME10\t12.5 % off the order\torders of £20.00 or more; 1 per email address\t" \
           "2027-03-01 09:00 to 2027-03-31 23:59\t0 / 100\tactive" in table

    shown = dict(line.split("\t", 1) for line in run("discount", "show", "deli", "rye5").output.splitlines())
    assert shown["takes_off"] == "£5.00 off Dark Rye" and shown["status"] == "active"
    assert json.loads(run("discount", "show", "deli", "RYE5", "--json").output)["value"] == 500

    paused = run("discount", "pause", "deli", "welcome10")
    assert paused.exit_code == 0 and "WELCOME10 is paused" in paused.output
    assert listed(run)["WELCOME10"]["status"] == "paused"
    assert run("discount", "resume", "deli", "WELCOME10").exit_code == 0
    assert listed(run)["WELCOME10"]["status"] == "active"


@pytest.mark.parametrize("args,message", [
    (["NOKIND"], "give exactly one of --percent N, --amount X or --free-shipping"),
    (["TWO", "--percent", "10", "--amount", "5.00"], "give exactly one of"),
    (["COMMA", "--amount", "5,00"], 'value: "5,00" is not a decimal price'),
    (["PENCE", "--amount", "5.001"], "more than 2 decimal places for GBP"),
    (["BIG", "--percent", "120"], "value: a percentage above 0 and at most 100"),
    (["FINE", "--percent", "10.555"], "at most two decimals"),
    (["MIN", "--percent", "10", "--min-subtotal", "£20"], "min_subtotal:"),
    (["WHEN", "--percent", "10", "--ends", "31/03/2027"], "ends_at: '31/03/2027' is not a date and time"),
    (["BACK", "--percent", "10", "--starts", "2027-04-01", "--ends", "2027-03-01"], "ends_at: must be after"),
    (["LIM", "--percent", "10", "--limit", "lots"], "usage_limit: a whole number"),
    (["bad code!", "--percent", "10"], "code: letters, digits"),
    (["WHAT", "--amount", "1.00", "--products", "Dark Rye"], "products: a list of slugs"),
])
def test_refusals_name_the_option(run, args, message):
    result = run("discount", "create", "deli", *args)
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output


def test_taken_codes_unknown_codes_and_shops_without_ecommerce(run):
    assert run("discount", "create", "deli", "ONCE", "--percent", "5").exit_code == 0
    taken = run("discount", "create", "deli", "once", "--percent", "5")
    assert taken.exit_code == 1 and "the code ONCE is taken" in taken.output
    missing = run("discount", "pause", "deli", "NOPE")
    assert missing.exit_code == 1 and "there is no discount with the code NOPE" in missing.output
    blog = run("discounts", "journal")
    assert blog.exit_code == 1 and "journal has no shop" in blog.output


def test_every_command_has_help(run):
    for path in (["discounts"], ["discount"], ["discount", "create"], ["discount", "show"], ["discount", "pause"],
                 ["discount", "resume"]):
        result = run(*path, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output, path
    assert "--per-email N" in run("discount", "create", "--help").output
