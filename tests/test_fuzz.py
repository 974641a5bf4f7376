"""The quick slice of the fuzz suite (issue 11), part of `make test`; `make fuzz` (tools/fuzz.py) runs the full
campaigns and writes benchmarks/fuzz.md. Same kits, fixed seeds here."""
import appfuzz
import blobfuzz
import pytest
from blobfuzz import corpus

N_BLOBS = 300


@pytest.fixture(scope="module")
def blobs(tmp_path_factory):
    mutants = corpus(blobfuzz.mutants(), N_BLOBS, seed=11)
    device = blobfuzz.run_device([m.data for m in mutants], tmp_path_factory.mktemp("blobs"))
    host = [blobfuzz.host_verdict(m.data) for m in mutants]
    return mutants, host, device


def test_mutated_blobs_raise_only_model_errors(blobs):
    mutants, host, device = blobs
    assert len(mutants) >= N_BLOBS * 0.9
    crashes = [(m.base, m.what, h[1]) for m, h in zip(mutants, host, strict=True) if h[0] == "crash"]
    assert not crashes, crashes[:5]  # host reader: BlobError or a policy
    crashes = [(m.base, m.what, d.text) for m, d in zip(mutants, device, strict=True) if d.verdict == "crash"]
    assert not crashes, crashes[:5]  # device loader: ModelError / MemoryError or a policy
    assert {"accept", "reject"} <= {d.verdict for d in device}  # the mutations reach past the checks


def test_host_and_device_accept_the_same_blobs(blobs):
    mutants, host, device = blobs
    differ = [(m.base, m.what) for m, h, d in zip(mutants, host, device, strict=True)
              if (h[0] == "accept") != (d.verdict == "accept")]
    assert not differ, differ[:5]


def test_accepted_blobs_run_give_no_nan_and_stay_in_range(blobs):
    """Every accepted mutant runs (infer_q and infer, in-range and extreme inputs, tests/mp_blob_check.py) with
    each output inside the range its file declares, no NaN and no exception but a non-finite input's ValueError."""
    mutants, _, device = blobs
    accepted = [d for d in device if d.verdict == "accept"]
    assert len(accepted) > 20 and all(d.outputs > 0 for d in accepted)  # the run check really ran
    bad = [(m.base, m.what, d.nan, d.outside, d.run_errors) for m, d in zip(mutants, device, strict=True)
           if d.verdict == "accept" and (d.nan or d.outside or d.run_errors)]
    assert not bad, bad[:5]


def test_hostile_configs_are_one_error_line_and_host_and_device_agree(tmp_path):
    texts = corpus(appfuzz.config_texts(), 60, seed=11)
    paths = []
    for k, text in enumerate(texts):
        paths.append(tmp_path / f"c{k}.json")
        paths[-1].write_bytes(text)
    outputs = appfuzz.run_app([["--config", str(p), *appfuzz.SHORT] for p in paths], tmp_path / "run")
    problems = [(texts[k][:80], p) for k, out in enumerate(outputs) for p in appfuzz.check_run(out)]
    assert not problems, problems[:5]
    verdicts = [(appfuzz.device_config_verdict(out), appfuzz.host_config_verdict(p)) for p, out in
                zip(paths, outputs, strict=True)]
    differ = [(text[:80], d, h) for text, (d, h) in zip(texts, verdicts, strict=True)
              if d != "memory" and (d == "accept") != (h == "accept")]
    assert sum(d == "memory" for d, _ in verdicts) <= len(texts) // 10
    assert not differ, differ[:5]


def test_hostile_replay_files_are_one_error_line_or_a_run(tmp_path):
    files = corpus(appfuzz.replay_files(), 40, seed=11)
    runs = []
    for k, data in enumerate(files):
        path = tmp_path / f"r{k}.csv"
        path.write_bytes(data)
        runs.append(["--sensor", "replay", "--replay-input", str(path), "--model", "models/policy_int8.bin"])
    outputs = appfuzz.run_app(runs, tmp_path / "run")
    problems = [(files[k][:60], p) for k, out in enumerate(outputs) for p in appfuzz.check_run(out)]
    assert not problems, problems[:5]
    errors = [out for out in outputs if "# error: replay_input: " in out]
    assert errors and len(errors) < len(outputs)  # both kinds drawn: rejected files and replayed ones


def test_noisy_link_keeps_every_untouched_row_and_a_killed_link_is_cut_short(tmp_path):
    """Quick slice of the link fuzz: one noisy run (10 % of the lines hit by a 0x03 / 0x04 / random byte, stray
    Ctrl-C towards the board) and one run whose link is killed mid-run."""
    import linkfuzz

    from tinypolicy_host.devtools.vboard import VBoardProcess

    fs = tmp_path / "fs"
    fs.mkdir()
    linkfuzz.real_app(fs, {"mode": "realtime", "duration_s": 2, "warmup": 0})
    with VBoardProcess(fs, tmp_path / "port", run_main=False) as vb:
        s = linkfuzz.noisy_run(vb.port, tmp_path / "noisy.csv", seed=3)
        assert not linkfuzz.check(s), linkfuzz.check(s)
        assert s["hit_lines"] > 5 and s["stray_ctrl_c_sent"] > 0 and s["good_rows"] > 150
        s = linkfuzz.noisy_run(vb.port, tmp_path / "killed.csv", seed=4, kill_after=1.5)
        assert not linkfuzz.check(s), linkfuzz.check(s)
        assert s["rows"] > 10
