"""Two-key rotation of the Weaviate API key on the project's own local Weaviate: while rotating, the
server takes the current and the next key (and no other); once rotated, only the new one."""

from __future__ import annotations

import pytest
import weaviate
from weaviate.classes.init import Auth

from streams.settings import Settings
from tooling.infra import free_ports
from tooling.infra.weaviate import WeaviateService

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def works(http_port: int, grpc_port: int, key: str) -> bool:
    """True when a client with ``key`` may list the collections."""
    try:
        client = weaviate.connect_to_local(port=http_port, grpc_port=grpc_port, auth_credentials=Auth.api_key(key),
                                           skip_init_checks=True)
    except Exception:  # noqa: BLE001 - refused at connect
        return False
    try:
        client.collections.list_all()
        return True
    except Exception:  # noqa: BLE001 - refused at the call
        return False
    finally:
        client.close()


def test_weaviate_takes_both_keys_during_a_rotation_and_only_the_new_one_after(tmp_path) -> None:
    settings = Settings()
    http_port, grpc_port = free_ports(2)
    folder = tmp_path / "weaviate"

    def serve(key: str, next_key: str | None) -> WeaviateService:
        service = WeaviateService(settings.home, http_port, grpc_port, folder, api_key=key, next_api_key=next_key,
                                  version=settings.weaviate_version)
        service.ensure_installed()
        service.start()
        service.wait_ready(180)
        return service

    service = serve("old-key", "new-key")
    try:
        assert [works(http_port, grpc_port, k) for k in ("old-key", "new-key", "other", "old-key,new-key")] == \
            [True, True, False, False]
    finally:
        service.stop()
    service = serve("new-key", None)  # the rotation finished: the old key is dropped
    try:
        assert [works(http_port, grpc_port, k) for k in ("old-key", "new-key")] == [False, True]
    finally:
        service.stop()
