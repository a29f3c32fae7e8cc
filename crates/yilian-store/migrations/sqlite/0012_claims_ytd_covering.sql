-- A claim's year to date (the fund's payments to the resident this year in
-- the same scheme and setting) is summed over the resident's earlier claims
-- for every claim adjudicated. With the index on (resident_id, service_date)
-- alone each of those claims was a lookup into the wide claims table (items
-- and rules as JSON); this index holds every column the sum reads, so it is
-- answered from the index (generator, 100k residents: the facts statement
-- of 500 claims 9.2 → 5.9 ms). Its leading columns are the old index's, so
-- a resident's claims by date still use it.
DROP INDEX claims_resident;
CREATE INDEX claims_resident ON claims(resident_id, service_date, scheme, setting, state, fund_fen);
