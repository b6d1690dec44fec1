-- « Sauvegardes » lists the plans by practice name, as a French reader orders names: case and
-- accents ignored, the id breaking ties (API 2.2, `GET /v1/plans?order=name`). The cluster's
-- collation is C (byte order: « École » after « Zèbre ») and neither ICU collations nor the
-- unaccent extension can be assumed on the server, so the key folds the letters of French
-- names itself; lower() folds ASCII only under C, hence the capitals in the list.
CREATE FUNCTION name_order(name text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
    SELECT lower(translate(
        replace(replace(replace(replace(name, 'œ', 'oe'), 'Œ', 'OE'), 'æ', 'ae'), 'Æ', 'AE'),
        'àâäáãåçéèêëíìîïñóòôöõúùûüýÿÀÂÄÁÃÅÇÉÈÊËÍÌÎÏÑÓÒÔÖÕÚÙÛÜÝŸ',
        'aaaaaaceeeeiiiinooooouuuuyyaaaaaaceeeeiiiinooooouuuuyy'))
    $$;
CREATE INDEX plans_by_name ON plans (name_order(client_name), id);
