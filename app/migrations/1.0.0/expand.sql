-- Baseline of the demo service's schema: versions 1.x keep the author in `author`.
CREATE TABLE IF NOT EXISTS notes (
  id         bigserial PRIMARY KEY,
  body       text NOT NULL,
  author     text NOT NULL DEFAULT 'anonymous',
  created_at timestamptz NOT NULL DEFAULT now()
);
