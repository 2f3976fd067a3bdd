"""trimodal_train."""
