"""Tests of the admin web application (admin_ui)."""
