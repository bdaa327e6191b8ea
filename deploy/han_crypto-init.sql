-- Run once by the official image's entrypoint when it initialises an empty
-- data directory, as POSTGRES_USER in POSTGRES_DB. Set HAN_CRYPTO_ROOT_KEY
-- (64 hex characters) in the container's environment before the first
-- start; without it han_crypto generates a key file beside the data.
CREATE EXTENSION IF NOT EXISTS han_crypto CASCADE;
