CREATE TABLE flext_run_locks (
	lock_key VARCHAR2(400 CHAR) NOT NULL, 
	run_id VARCHAR2(64 CHAR) NOT NULL, 
	job VARCHAR2(200 CHAR) NOT NULL, 
	host VARCHAR2(255 CHAR) NOT NULL, 
	pid INTEGER NOT NULL, 
	acquired_at TIMESTAMP NOT NULL, 
	heartbeat_at TIMESTAMP NOT NULL, 
	expires_at TIMESTAMP NOT NULL, 
	PRIMARY KEY (lock_key)
);

CREATE TABLE flext_run_streams (
	run_id VARCHAR2(64 CHAR) NOT NULL, 
	stream VARCHAR2(200 CHAR) NOT NULL, 
	records_read NUMBER(19) NOT NULL, 
	records_loaded NUMBER(19) NOT NULL, 
	rejects NUMBER(19) NOT NULL, 
	retries NUMBER(19) NOT NULL, 
	rate_limited NUMBER(19) NOT NULL, 
	bookmark_before VARCHAR2(1000 CHAR), 
	bookmark_after VARCHAR2(1000 CHAR), 
	PRIMARY KEY (run_id, stream)
);

CREATE TABLE flext_runs (
	run_id VARCHAR2(64 CHAR) NOT NULL, 
	job VARCHAR2(200 CHAR) NOT NULL, 
	kind VARCHAR2(16 CHAR) NOT NULL, 
	environment VARCHAR2(32 CHAR) NOT NULL, 
	triggered_by VARCHAR2(16 CHAR) NOT NULL, 
	host VARCHAR2(255 CHAR) NOT NULL, 
	os_user VARCHAR2(128 CHAR) NOT NULL, 
	pid INTEGER NOT NULL, 
	started_at TIMESTAMP NOT NULL, 
	ended_at TIMESTAMP, 
	heartbeat_at TIMESTAMP NOT NULL, 
	expires_at TIMESTAMP NOT NULL, 
	status VARCHAR2(20 CHAR) NOT NULL, 
	exit_code INTEGER, 
	error VARCHAR2(1000 CHAR), 
	link_id VARCHAR2(64 CHAR), 
	attempts INTEGER NOT NULL, 
	log_path VARCHAR2(1000 CHAR), 
	PRIMARY KEY (run_id)
);

CREATE INDEX ix_flext_runs_job_started ON flext_runs (job, started_at);

CREATE INDEX ix_flext_runs_link ON flext_runs (link_id);

CREATE INDEX ix_flext_runs_status ON flext_runs (status);
