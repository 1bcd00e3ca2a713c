-- DELIBERATELY UNSAFE (the e2e test's breaking migration): renames the column in one step instead of
-- expand/contract. 2.x code works with it; the live 1.x version does not - the release must stop before any traffic
-- moves to 2.0.0-unsafe.
ALTER TABLE notes RENAME COLUMN author TO author_name;
