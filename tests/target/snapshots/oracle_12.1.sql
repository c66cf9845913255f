-- type mapping
-- boolean: NUMBER(1, 0)
-- date: DATE
-- integer: NUMBER(19, 0)
-- integer(big): NUMBER(38, 0)
-- json: CLOB
-- number: NUMBER
-- string(1000): VARCHAR2(1000 CHAR)
-- string(20): VARCHAR2(20 CHAR)
-- string(255): VARCHAR2(255 CHAR)
-- string(64): VARCHAR2(64 CHAR)
-- string(unbounded): CLOB
-- time: VARCHAR2(64 CHAR)
-- timestamp: TIMESTAMP WITH TIME ZONE
-- create table (upsert: primary key on the stream keys)
CREATE TABLE wms_owner.wms_order_hdr (
	id NUMBER(19, 0) NOT NULL, 
	ord_nbr VARCHAR2(20 CHAR), 
	qty NUMBER(19, 0), 
	big_counter NUMBER(38, 0), 
	price NUMBER, 
	is_active NUMBER(1, 0), 
	mod_ts TIMESTAMP WITH TIME ZONE, 
	ship_date DATE, 
	ship_time VARCHAR2(64 CHAR), 
	facility_id CLOB, 
	note VARCHAR2(1000 CHAR), 
	long_text CLOB, 
	"DATE" VARCHAR2(64 CHAR), 
	"LEVEL" NUMBER(19, 0), 
	"SIZE" NUMBER(19, 0), 
	"COMMENT" VARCHAR2(255 CHAR), 
	"USER" VARCHAR2(64 CHAR), 
	"_SDC_BATCHED_AT" TIMESTAMP WITH TIME ZONE, 
	allocation_destinatio_6d1ed39e VARCHAR2(64 CHAR), 
	PRIMARY KEY (id), 
	CHECK (is_active IN (0, 1)), 
	CHECK (facility_id IS JSON)
)
-- add columns
ALTER TABLE wms_owner.wms_order_hdr ADD ("ORDER" VARCHAR2(255 CHAR), payload CLOB CHECK (payload IS JSON), shipped NUMBER(1, 0) CHECK (shipped IN (0, 1)))
-- widen integer -> number
ALTER TABLE wms_owner.wms_order_hdr MODIFY (qty NUMBER)
-- widen varchar2(20) -> varchar2(255)
ALTER TABLE wms_owner.wms_order_hdr MODIFY (ord_nbr VARCHAR2(255 CHAR))
-- widen varchar2 -> clob (copy, since MODIFY cannot)
ALTER TABLE wms_owner.wms_order_hdr ADD (comment__new CLOB)
UPDATE wms_owner.wms_order_hdr SET comment__new = "COMMENT"
ALTER TABLE wms_owner.wms_order_hdr DROP COLUMN "COMMENT"
ALTER TABLE wms_owner.wms_order_hdr RENAME COLUMN comment__new TO "COMMENT"
-- incompatible change under schema_change_policy=text
ALTER TABLE wms_owner.wms_order_hdr ADD (mod_ts__new CLOB)
UPDATE wms_owner.wms_order_hdr SET mod_ts__new = TO_CHAR(mod_ts, 'YYYY-MM-DD"T"HH24:MI:SS.FF6TZH:TZM')
ALTER TABLE wms_owner.wms_order_hdr DROP COLUMN mod_ts
ALTER TABLE wms_owner.wms_order_hdr RENAME COLUMN mod_ts__new TO mod_ts
-- upsert: staging table and MERGE
CREATE GLOBAL TEMPORARY TABLE wms_owner.wms_order_hdr__stg ON COMMIT DELETE ROWS AS SELECT * FROM wms_owner.wms_order_hdr WHERE 1 = 0
MERGE INTO wms_owner.wms_order_hdr t USING wms_owner.wms_order_hdr__stg s ON (t.id = s.id) WHEN MATCHED THEN UPDATE SET t.ord_nbr = s.ord_nbr, t.qty = s.qty, t.big_counter = s.big_counter, t.price = s.price, t.is_active = s.is_active, t.mod_ts = s.mod_ts, t.ship_date = s.ship_date, t.ship_time = s.ship_time, t.facility_id = s.facility_id, t.note = s.note, t.long_text = s.long_text, t."DATE" = s."DATE", t."LEVEL" = s."LEVEL", t."SIZE" = s."SIZE", t."COMMENT" = s."COMMENT", t."USER" = s."USER", t."_SDC_BATCHED_AT" = s."_SDC_BATCHED_AT", t.allocation_destinatio_6d1ed39e = s.allocation_destinatio_6d1ed39e WHEN NOT MATCHED THEN INSERT (id, ord_nbr, qty, big_counter, price, is_active, mod_ts, ship_date, ship_time, facility_id, note, long_text, "DATE", "LEVEL", "SIZE", "COMMENT", "USER", "_SDC_BATCHED_AT", allocation_destinatio_6d1ed39e) VALUES (s.id, s.ord_nbr, s.qty, s.big_counter, s.price, s.is_active, s.mod_ts, s.ship_date, s.ship_time, s.facility_id, s.note, s.long_text, s."DATE", s."LEVEL", s."SIZE", s."COMMENT", s."USER", s."_SDC_BATCHED_AT", s.allocation_destinatio_6d1ed39e)
-- upsert when every column is a key
MERGE INTO wms_owner.wms_order_hdr t USING wms_owner.wms_order_hdr__stg s ON (t.id = s.id) WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id)
-- append-only insert (array DML)
INSERT INTO wms_owner.wms_order_hdr (id, ord_nbr, qty, big_counter, price, is_active, mod_ts, ship_date, ship_time, facility_id, note, long_text, "DATE", "LEVEL", "SIZE", "COMMENT", "USER", "_SDC_BATCHED_AT", allocation_destinatio_6d1ed39e) VALUES (:1, :2, :3, :4, :5, :6, :7, :8, :9, :10, :11, :12, :13, :14, :15, :16, :17, :18, :19)
-- overwrite swap
ALTER TABLE wms_owner.wms_order_hdr RENAME TO wms_order_hdr__old
ALTER TABLE wms_owner.wms_order_hdr__new RENAME TO wms_order_hdr
DROP TABLE wms_owner.wms_order_hdr__old PURGE
-- schema statements (Oracle: none, a schema is a user)
-- (none)
