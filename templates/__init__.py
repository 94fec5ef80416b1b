"""Jinja2 templates shipped inside the package (fitadvisor.templates)."""
