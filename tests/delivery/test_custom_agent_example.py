"""examples/custom_agent.py runs as shipped and shows its agent working."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_custom_agent_example_runs():
    """The example registers its agent, delivers through master.cf and prints the outcomes."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "custom_agent.py")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "to=<alice@example.com>, relay=archive, dsn=2.0.0, (archived for example.com)"
    assert lines[1] == "to=<not-an-address>, relay=archive, dsn=5.1.3, (bad recipient address syntax)"
    assert '"subject": "quarterly report"' in lines[2]
