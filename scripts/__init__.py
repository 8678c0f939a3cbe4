"""ParC-HW scripts package."""
