"""checkov's Kubernetes checks over every render, in one run (checkov is slow to start).

A check may only be skipped by a `checkov.io/skipN` annotation on the object that states
why it does not apply; this test fails on any failed check and on any skip without a reason.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

from conftest import objects


@pytest.fixture(scope="module")
def report(renders, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("checkov")
    for value_set, rendered in renders.items():
        folder = root / value_set
        folder.mkdir()
        for i, doc in enumerate(objects(rendered)):
            (folder / f'{i:02}-{doc["kind"]}-{doc["metadata"]["name"]}.yaml').write_text(yaml.safe_dump(doc))
    checkov = pathlib.Path(sys.executable).parent / "checkov"
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false", LOG_LEVEL="WARNING")
    proc = subprocess.run(
        [str(checkov), "--directory", str(root), "--framework", "kubernetes", "--output", "json",
         "--skip-download", "--compact"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    # Exit 1 means failed checks (reported below); anything else is checkov itself failing.
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    reports = data if isinstance(data, list) else [data]
    (k8s,) = [r for r in reports if r.get("check_type") == "kubernetes"]
    return k8s


def test_checkov_ran_checks(report):
    summary = report["summary"]
    assert summary["passed"] > 100, summary
    assert summary["resource_count"] > 20, summary


def test_no_failed_checks(report):
    failed = [
        f'{c["check_id"]} {c["check_name"]} -- {c["file_path"]} {c["resource"]}'
        for c in report["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(failed)


def test_every_skip_has_a_specific_reason(report):
    skipped = report["results"]["skipped_checks"]
    assert skipped, "the chart's skip annotations were not seen"
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) > 30, f'{check["check_id"]} on {check["resource"]} skipped without a reason'
