"""Who may use a patient's data: the one access decision, clinician links and the access log."""
