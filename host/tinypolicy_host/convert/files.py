"""Files a conversion writes beside the blobs: the metadata format tag, JSON with numpy values, sha256 digests."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

METADATA_FORMAT = "tinypolicy-convert/1"


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=1, default=_jsonable) + "\n")


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, Path):
        return str(v)
    raise TypeError(type(v).__name__)
