"""ParC-HW hw package."""
