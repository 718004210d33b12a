"""The README's example runs against the stack."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def test_example_puts_credentials_creates_registers_and_reads_metrics(stack_path: str) -> None:
    import example

    result = example.main(stack_path)
    assert result["registration_created"] is True
    assert result["registration_count"] >= 1
    assert result["registration"].startswith(result["webinar"] + "/registrations/")
