"""values.yaml documents every key, and the chart README's values table matches it."""

from __future__ import annotations

import yaml

from values_doc import CHART, documented_keys, readme_with_table

# Keys whose value is free-form content, documented as a whole (their children are examples).
FREE_FORM = ("resources", "policy", "config", "networkPolicyPeers", "podLabels",
             "extraIngress", "ingressFrom", "labels", "annotations", "additionalAlertLabels")


def _leaf_paths(node, prefix=""):
    if isinstance(node, dict) and node:
        for key, value in node.items():
            path = f"{prefix}{key}"
            if key in FREE_FORM or not isinstance(value, dict) or not value:
                yield path
            else:
                yield from _leaf_paths(value, path + ".")
    else:
        yield prefix.rstrip(".")


def test_every_value_is_documented():
    text = (CHART / "values.yaml").read_text()
    documented = {key for key, _, _ in documented_keys(text)}
    missing = [p for p in _leaf_paths(yaml.safe_load(text)) if p not in documented]
    assert not missing, f"values without a '# --' comment: {missing}"


def test_readme_table_is_current():
    readme = (CHART / "README.md").read_text()
    assert readme == readme_with_table(readme), "run: .venv/bin/python helm/tests/values_doc.py"
