"""What the platform reads from dbt's manifest at run time (and the DAG at parse time).

The published marts are listed once, in the dbt exposure `published_marts`
(`dbt_project/models/marts/core/_core__exposures.yml`); publication and the DAG's Assets read that
list from `target/manifest.json`, which `drp prepare` (run by `make up`) writes. The manifest is a
local file, so reading it at parse time costs no network, as Cosmos already does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from drp.transform.dbt_runner import DBT_MANIFEST_PATH, DbtError

PUBLISHED_EXPOSURE = "published_marts"
"""The dbt exposure whose models are the published marts."""


class DbtManifestError(DbtError):
    """dbt's manifest is missing, unreadable, or lacks what the platform reads from it."""


def load_manifest(path: Path = DBT_MANIFEST_PATH) -> dict[str, Any]:
    """dbt's parsed manifest.

    Raises:
        DbtManifestError: the file is missing or is not JSON.
    """
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DbtManifestError(
            f"dbt manifest {path} is missing: run `drp prepare` (`make up` runs it) to write it"
        ) from None
    except (OSError, ValueError) as exc:
        raise DbtManifestError(
            f"dbt manifest {path} is unreadable ({exc}): run `drp prepare` to rewrite it"
        ) from None
    if not isinstance(data, dict):
        raise DbtManifestError(f"dbt manifest {path} is not a manifest: run `drp prepare` to rewrite it")
    return data


def published_marts(path: Path = DBT_MANIFEST_PATH) -> tuple[str, ...]:
    """The models of the exposure `published_marts`, in the order the exposure lists them.

    The order is the publish order (and the order of the run manifest's snapshots). dbt keeps it:
    it resolves an exposure's `ref()`s in the order written and appends each once to
    `depends_on.nodes` (dbt-core `_process_refs`, `DependsOn.add_node`), so the yml decides it.

    Raises:
        DbtManifestError: no manifest, no such exposure, or an exposure without models.
    """
    manifest = load_manifest(path)
    exposure = next(
        (e for e in manifest.get("exposures", {}).values() if e.get("name") == PUBLISHED_EXPOSURE), None
    )
    if exposure is None:
        raise DbtManifestError(
            f"dbt manifest {path} has no exposure {PUBLISHED_EXPOSURE!r}: it lists the published marts "
            f"(dbt_project/models/marts/core/_core__exposures.yml); run `drp prepare` after changing it"
        )
    nodes = manifest.get("nodes", {})
    marts = tuple(
        str(nodes[unique_id]["name"])
        for unique_id in exposure.get("depends_on", {}).get("nodes", [])
        if unique_id.startswith("model.") and unique_id in nodes
    )
    if not marts:
        raise DbtManifestError(f"the dbt exposure {PUBLISHED_EXPOSURE!r} in {path} depends on no model")
    return marts
