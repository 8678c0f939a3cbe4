"""ParC-HW sim package."""
