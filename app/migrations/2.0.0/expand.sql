-- Expand for 2.0.0, which keeps the author in `author_name`. Additive only: 1.x (still live) keeps working.
-- Both columns are kept in step by a trigger, whichever version writes the row, until the contract drops `author`.
ALTER TABLE notes ADD COLUMN IF NOT EXISTS author_name text;
UPDATE notes SET author_name = author WHERE author_name IS NULL;
ALTER TABLE notes ALTER COLUMN author DROP NOT NULL;
ALTER TABLE notes ALTER COLUMN author DROP DEFAULT; -- else a 2.x insert gets "anonymous" instead of its author

CREATE OR REPLACE FUNCTION notes_sync_author() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.author_name IS NULL THEN
    NEW.author_name := NEW.author;
  END IF;
  IF NEW.author IS NULL THEN
    NEW.author := NEW.author_name;
  END IF;
  RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS notes_sync_author ON notes;
CREATE TRIGGER notes_sync_author BEFORE INSERT OR UPDATE ON notes
  FOR EACH ROW EXECUTE FUNCTION notes_sync_author();
