# device: the host's golden vectors (tests/data/golden/manifest.json, format /work/coord/V2_GOLDEN.md) for tests.
import json

from devtest import file_exists, skip

MANIFEST = "tests/data/golden/manifest.json"


def entries(dtype=None):
    """[(net, blob entry)] of the manifest (paths relative to the repo root), optionally only one dtype; Skip
    while the host has not written the manifest yet."""
    if not file_exists(MANIFEST):
        skip("no %s yet (the host's v2 golden vectors)" % MANIFEST)
    with open(MANIFEST) as f:
        doc = json.load(f)
    return _select(doc["nets"], dtype)


def zoo_entries(folder, dtype=None):
    """As entries(), from a zoo task's folder (e.g. 'models/zoo/cartpole'): the `golden` section of its
    metadata.json, whose paths are relative to the folder (made relative to the repo root here)."""
    with open(folder + "/metadata.json") as f:
        net = json.load(f)["golden"]
    for e in net["blobs"]:
        for key in ("blob", "golden", "layers"):
            if key in e:
                e[key] = folder + "/" + e[key]
    return _select([net], dtype)


def _select(nets, dtype):
    res = []
    for net in nets:
        for e in net["blobs"]:
            if dtype is None or e["dtype"] == dtype or (dtype == "int" and e["dtype"] != "f32"):
                res.append((net, e))
    return res


def rows(path):
    """(header names, generator of rows as lists of strings) of a CSV file."""
    f = open(path)
    head = f.readline().strip().split(",")

    def gen():
        try:
            for line in f:
                line = line.strip()
                if line:
                    yield line.split(",")
        finally:
            f.close()

    return head, gen()
