-- How many events projection $1 has parked.
SELECT count(*) FROM projection_dead_letters WHERE projection = $1
