"""Container tests reuse the end-to-end fixtures (the mock Anthropic API on the host)."""

from tests.e2e.conftest import _fresh_mock, mock  # noqa: F401 - fixtures, used by name
