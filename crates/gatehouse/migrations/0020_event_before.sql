-- What an object looked like before the change an event records (issue 16: the console's
-- Activity page shows before and after). Only updates fill it; WorkOS's payload (`data`) stays
-- the object after the change, and GET /events never shows this column.
ALTER TABLE events ADD COLUMN before_data TEXT;
