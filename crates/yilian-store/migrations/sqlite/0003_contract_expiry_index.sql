-- Expiry sweeps find ended active contracts by status and end date.
CREATE INDEX contracts_ending ON contracts(status, end_date);
