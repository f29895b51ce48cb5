ALTER TABLE cchd_screens DROP COLUMN auscultation_score;
ALTER TABLE cchd_screens DROP COLUMN auscultation_grade;
ALTER TABLE cchd_screens DROP COLUMN auscultation_result;
ALTER TABLE cchd_screens DROP COLUMN auscultation_device_id;
ALTER TABLE cchd_screens DROP COLUMN auscultation_method;
ALTER TABLE hospitals DROP COLUMN cchd_protocol;
ALTER TABLE infants DROP COLUMN nicu_days;
ALTER TABLE dbs_results DROP COLUMN tested_at;
