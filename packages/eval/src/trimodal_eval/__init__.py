"""trimodal_eval."""
