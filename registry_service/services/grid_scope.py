"""A grid user's scope: the subtrees of the regions it is a grid person of (docs/grid.md).

Region paths are materialised ("4101/410105/410105-003"): a region is in a scope when its path is
one of the scope's paths or lies below one. Other roles have no grid scope: the bureau sees every
region, and this module is asked only about grid principals.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, true

from registry_service.models import Role
from registry_service.principal import Principal


def in_subtree(path: str, top: str) -> bool:
    """Is the region at `path` the region at `top` or below it? (A prefix of the path's parts, not
    of its characters: "4101/410105-1" is not under "4101/410105".)"""
    return path == top or path.startswith(top + "/")


def visible(principal: Principal, region_path: str) -> bool:
    """May this principal see (and, by the workflow's rules, act on) something in this region?"""
    if principal.role is Role.BUREAU:
        return True
    if principal.role is Role.GRID:
        return any(in_subtree(region_path, top) for top in principal.region_paths)
    return False


def path_filter(principal: Principal, path_column: Any) -> ColumnElement[bool]:
    """SQL for `visible` over a column of region paths (uses the index on regions.path)."""
    if principal.role is Role.BUREAU:
        return true()
    if principal.role is not Role.GRID or not principal.region_paths:
        return false()
    return or_(*(or_(path_column == top, path_column.startswith(top + "/", autoescape=True)) for top in principal.region_paths))
