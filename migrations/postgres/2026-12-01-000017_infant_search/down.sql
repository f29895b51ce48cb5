DROP INDEX infants_birth;
DROP TABLE infant_phones;
