"""Small applications served by the integration tests, and helpers to run servers."""
