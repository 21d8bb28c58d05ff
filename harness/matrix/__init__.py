"""The matrix and its renders: variants, copier renders and updates, the spec's criteria.
No Docker here."""
