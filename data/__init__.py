"""Data tables shipped inside the package (fitadvisor.data)."""
