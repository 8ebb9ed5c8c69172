"""Carriers whose tracking pages we can link to from an order and its "shipped" email."""

from __future__ import annotations

from urllib.parse import quote

# key: (name people know, tracking page with {number})
CARRIERS: dict[str, tuple[str, str]] = {
    "royal-mail": ("Royal Mail", "https://www.royalmail.com/track-your-item#/tracking-results/{number}"),
    "parcelforce": ("Parcelforce", "https://www.parcelforce.com/track-trace?trackNumber={number}"),
    "evri": ("Evri", "https://www.evri.com/track/parcel/{number}"),
    "dpd": ("DPD", "https://track.dpd.co.uk/parcels/{number}"),
    "dhl": ("DHL", "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={number}"),
    "deutsche-post": ("Deutsche Post", "https://www.deutschepost.de/sendung/simpleQuery.html?form.sendungsnummer={number}"),
    "gls": ("GLS", "https://gls-group.com/track/{number}"),
    "postnl": ("PostNL", "https://jouw.postnl.nl/track-and-trace/{number}"),
    "la-poste": ("La Poste / Colissimo", "https://www.laposte.fr/outils/suivre-vos-envois?code={number}"),
    "ups": ("UPS", "https://www.ups.com/track?tracknum={number}"),
    "fedex": ("FedEx", "https://www.fedex.com/fedextrack/?trknbr={number}"),
    "usps": ("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}"),
}


def carrier_key(value: str) -> str:
    """A known carrier's key from its key or name (any case); other text is kept as typed."""
    text = value.strip()
    for key, (name, _) in CARRIERS.items():
        if text.lower() in (key, name.lower()):
            return key
    return text


def carrier_name(value: str) -> str:
    return CARRIERS[value][0] if value in CARRIERS else value


def tracking_url(carrier: str, number: str | None) -> str | None:
    if not number or carrier not in CARRIERS:
        return None
    return CARRIERS[carrier][1].format(number=quote(number.strip(), safe=""))
