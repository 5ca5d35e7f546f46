"""The content-addressed artifact store the settings point at."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cad.store import LocalArtifactStore

if TYPE_CHECKING:
    from cad.store import LocalArtifactStore
    from orders.context import AppContext


def store_for(ctx: AppContext) -> LocalArtifactStore:

    return LocalArtifactStore(ctx.settings.resolved_artifact_dir())
