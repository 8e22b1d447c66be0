"CI's own settings: the costly shared fixtures that `--dist loadgroup` keeps on one pytest-xdist worker exist."
import re

from conftest import REPO, SHARED_FIXTURES


def test_shared_fixtures_are_session_or_module_fixtures():
    "Each name in SHARED_FIXTURES is a fixture of tests/ scoped to the session or a module (a rename would ungroup it)."
    source = "\n".join(p.read_text() for p in sorted((REPO / "tests").glob("*.py")))
    scoped = set(re.findall(r'@pytest\.fixture\(scope="(?:session|module)"\)\ndef (\w+)\(', source))
    assert set(SHARED_FIXTURES) <= scoped, set(SHARED_FIXTURES) - scoped
