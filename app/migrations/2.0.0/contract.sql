-- Contract for 2.0.0: runs only once no 1.x instance can take traffic (the release tool's postBake point).
DROP TRIGGER IF EXISTS notes_sync_author ON notes;
DROP FUNCTION IF EXISTS notes_sync_author();
UPDATE notes SET author_name = author WHERE author_name IS NULL;
ALTER TABLE notes ALTER COLUMN author_name SET NOT NULL;
ALTER TABLE notes ALTER COLUMN author_name SET DEFAULT 'anonymous';
ALTER TABLE notes DROP COLUMN IF EXISTS author;
