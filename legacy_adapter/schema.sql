-- The legacy (r2-style) schema: per type a thing table and an EAV data table, plus vote relations.
-- Sister stores get an exact copy of this schema, mirrored from production by sister_stores.
-- `version` is the per-entity version the legacy bumps on every change and carries in CDC events.

CREATE TABLE IF NOT EXISTS reddit_thing_account (
    thing_id bigserial PRIMARY KEY,
    ups integer NOT NULL DEFAULT 0,
    downs integer NOT NULL DEFAULT 0,
    deleted boolean NOT NULL DEFAULT false,
    spam boolean NOT NULL DEFAULT false,
    date timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS reddit_data_account (
    thing_id bigint NOT NULL,
    key varchar(64) NOT NULL,
    value text,
    kind varchar(16),
    PRIMARY KEY (thing_id, key)
);
CREATE TABLE IF NOT EXISTS reddit_thing_subreddit (
    thing_id bigserial PRIMARY KEY,
    ups integer NOT NULL DEFAULT 0,
    downs integer NOT NULL DEFAULT 0,
    deleted boolean NOT NULL DEFAULT false,
    spam boolean NOT NULL DEFAULT false,
    date timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS reddit_data_subreddit (
    thing_id bigint NOT NULL,
    key varchar(64) NOT NULL,
    value text,
    kind varchar(16),
    PRIMARY KEY (thing_id, key)
);
CREATE TABLE IF NOT EXISTS reddit_thing_link (
    thing_id bigserial PRIMARY KEY,
    ups integer NOT NULL DEFAULT 0,
    downs integer NOT NULL DEFAULT 0,
    deleted boolean NOT NULL DEFAULT false,
    spam boolean NOT NULL DEFAULT false,
    date timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS reddit_data_link (
    thing_id bigint NOT NULL,
    key varchar(64) NOT NULL,
    value text,
    kind varchar(16),
    PRIMARY KEY (thing_id, key)
);
CREATE TABLE IF NOT EXISTS reddit_thing_comment (
    thing_id bigserial PRIMARY KEY,
    ups integer NOT NULL DEFAULT 0,
    downs integer NOT NULL DEFAULT 0,
    deleted boolean NOT NULL DEFAULT false,
    spam boolean NOT NULL DEFAULT false,
    date timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS reddit_data_comment (
    thing_id bigint NOT NULL,
    key varchar(64) NOT NULL,
    value text,
    kind varchar(16),
    PRIMARY KEY (thing_id, key)
);
CREATE INDEX IF NOT EXISTS reddit_data_account_name ON reddit_data_account (value) WHERE key = 'name';
CREATE INDEX IF NOT EXISTS reddit_data_subreddit_name ON reddit_data_subreddit (value) WHERE key = 'name';
CREATE INDEX IF NOT EXISTS reddit_data_comment_link ON reddit_data_comment (value) WHERE key = 'link_id';

-- Votes: thing1 = account, thing2 = comment, name = direction as text ('1', '0', '-1').
CREATE TABLE IF NOT EXISTS reddit_rel_vote_account_comment (
    rel_id bigserial PRIMARY KEY,
    thing1_id bigint NOT NULL,
    thing2_id bigint NOT NULL,
    name varchar(4) NOT NULL,
    date timestamptz NOT NULL DEFAULT now(),
    UNIQUE (thing1_id, thing2_id)
);
