"""trimodal_data."""
