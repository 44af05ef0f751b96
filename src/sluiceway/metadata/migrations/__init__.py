"""Alembic migrations of the metadata store. ``HEAD`` must name the newest revision in ``versions/``.

``MINIMUM_VERSIONS`` maps each revision to the oldest Sluiceway release that can use a store at that
revision. Every upgrade writes the entry of the revision it reaches into the store's ``store_info`` table
(key ``min_sluiceway_version``), so an OLDER Sluiceway that meets a newer store, whose revision it cannot
know, can still tell its user which version to install. Add an entry with every new revision.
"""

HEAD = "0002_store_info"

MINIMUM_VERSIONS: dict[str, str] = {
    "0001_initial": "0.1.0",
    "0002_store_info": "0.1.0",
}

# The key in ``store_info`` that holds MINIMUM_VERSIONS[revision] of the store's revision.
MIN_VERSION_KEY = "min_sluiceway_version"
