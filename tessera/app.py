"""The app factory: settings in, the ASGI application (API now; admin UI and edge server later) out."""

from __future__ import annotations

from commerce_api.app import create_app
from commerce_api.services import ApiConfig, Services

from .settings import Settings


def api_config(settings: Settings) -> ApiConfig:
    return ApiConfig(data_dir=settings.data_dir, base_domain=settings.base_domain, secret_key=settings.secret_key,
                     production=settings.production, port=settings.port)


def services(settings: Settings) -> Services:
    return Services.build(api_config(settings))


def make_app(settings: Settings):
    return create_app(api_config(settings))
