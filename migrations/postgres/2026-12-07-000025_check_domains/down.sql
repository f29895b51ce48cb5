ALTER TABLE audit_log
    ALTER COLUMN action TYPE TEXT,
    ADD CONSTRAINT audit_log_action_check CHECK (action IN ('create','update','read'));

ALTER TABLE cases
    ALTER COLUMN programme TYPE TEXT,
    ALTER COLUMN reason TYPE TEXT,
    ALTER COLUMN state TYPE TEXT,
    ALTER COLUMN tier TYPE TEXT,
    ADD CONSTRAINT cases_programme_check CHECK (programme IN ('DBS','HEAR','CCHD')),
    ADD CONSTRAINT cases_reason_check CHECK (reason IN ('positive','repeat','recollect','refer','missed')),
    ADD CONSTRAINT cases_state_check CHECK (state IN ('open','family_contacted','recall_scheduled','recheck_done','diagnostic_workup','resolved')),
    ADD CONSTRAINT cases_tier_check CHECK (tier IN ('T0','T1','T2','T3'));

ALTER TABLE dbs_cards
    ALTER COLUMN feeding TYPE TEXT,
    ADD CONSTRAINT dbs_cards_feeding_check CHECK (feeding IN ('breast','formula','mixed','parenteral','none'));

ALTER TABLE infants
    ALTER COLUMN sex TYPE TEXT,
    ALTER COLUMN gestational_age_weeks TYPE INTEGER,
    ALTER COLUMN gestational_age_days TYPE INTEGER,
    ALTER COLUMN birth_weight_g TYPE INTEGER,
    ALTER COLUMN plurality TYPE INTEGER,
    ALTER COLUMN mother_id_type TYPE TEXT,
    ALTER COLUMN status TYPE TEXT,
    ADD CONSTRAINT infants_sex_check CHECK (sex IN ('male','female','undetermined')),
    ADD CONSTRAINT infants_gestational_age_weeks_check CHECK (gestational_age_weeks BETWEEN 20 AND 45),
    ADD CONSTRAINT infants_gestational_age_days_check CHECK (gestational_age_days BETWEEN 0 AND 6),
    ADD CONSTRAINT infants_birth_weight_g_check CHECK (birth_weight_g BETWEEN 200 AND 7000),
    ADD CONSTRAINT infants_plurality_check CHECK (plurality BETWEEN 1 AND 8),
    ADD CONSTRAINT infants_mother_id_type_check CHECK (mother_id_type IN ('resident_id','passport','other')),
    ADD CONSTRAINT infants_status_check CHECK (status IN ('active','deceased','transferred'));

DROP DOMAIN audit_action;
DROP DOMAIN urgency_tier;
DROP DOMAIN case_state;
DROP DOMAIN case_reason;
DROP DOMAIN programme_code;
DROP DOMAIN feeding_kind;
DROP DOMAIN infant_status;
DROP DOMAIN id_document_type;
DROP DOMAIN plurality_count;
DROP DOMAIN birth_weight;
DROP DOMAIN gestational_days;
DROP DOMAIN gestational_weeks;
DROP DOMAIN infant_sex;
