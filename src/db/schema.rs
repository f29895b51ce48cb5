//! The portable diesel schema shared by SQLite and PostgreSQL, kept by hand.
//!
//! Only types in the common subset appear here (Text, Integer, Bool, Timestamp); see
//! `docs/architecture.md`. Both migration trees must produce exactly these columns.

diesel::table! {
    hospitals (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        district -> Nullable<Text>,
        contact_emails -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        cchd_protocol -> Nullable<Text>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        display_name -> Text,
        password_hash -> Text,
        role -> Text,
        hospital_id -> Nullable<Text>,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
        email -> Nullable<Text>,
        token_version -> Integer,
        password_one_time -> Bool,
    }
}

diesel::table! {
    api_clients (id) {
        id -> Text,
        client_id -> Text,
        name -> Text,
        role -> Text,
        hospital_id -> Nullable<Text>,
        secret_hash -> Text,
        active -> Bool,
        secret_rotated_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        token_version -> Integer,
    }
}

diesel::table! {
    infants (id) {
        id -> Text,
        hospital_id -> Text,
        mrn -> Text,
        sex -> Text,
        birth_at -> Timestamp,
        birth_utc_offset_minutes -> Integer,
        gestational_age_weeks -> Integer,
        gestational_age_days -> Integer,
        birth_weight_g -> Integer,
        plurality -> Integer,
        birth_order -> Integer,
        nicu_admitted -> Bool,
        mother_name -> Text,
        mother_phones -> Text,
        mother_id_type -> Nullable<Text>,
        mother_id_hash -> Nullable<Text>,
        mother_id_masked -> Nullable<Text>,
        address -> Nullable<Text>,
        status -> Text,
        status_changed_at -> Nullable<Timestamp>,
        status_note -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        contact_problem -> Bool,
        merged_into -> Nullable<Text>,
        sms_opt_out -> Bool,
        nicu_days -> Nullable<Integer>,
    }
}

diesel::table! {
    idempotency_keys (principal, idem_key) {
        principal -> Text,
        idem_key -> Text,
        method -> Text,
        path -> Text,
        request_hash -> Text,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        response_location -> Nullable<Text>,
        created_at -> Timestamp,
        owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    instance_secrets (name) {
        name -> Text,
        value -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(users -> hospitals (hospital_id));
diesel::joinable!(api_clients -> hospitals (hospital_id));
diesel::joinable!(infants -> hospitals (hospital_id));

diesel::allow_tables_to_appear_in_same_query!(
    hospitals,
    users,
    api_clients,
    infants,
    idempotency_keys,
    instance_secrets,
);

diesel::table! {
    catalogue_versions (version) {
        version -> Text,
        jurisdiction -> Text,
        effective_from -> Date,
        content -> Text,
        published_by -> Text,
        published_at -> Timestamp,
    }
}

diesel::table! {
    dbs_cards (id) {
        id -> Text,
        infant_id -> Text,
        hospital_id -> Text,
        barcode -> Text,
        collected_at -> Timestamp,
        feeding -> Text,
        transfusion -> Bool,
        tpn -> Bool,
        antibiotics -> Bool,
        collector -> Text,
        repeat_of -> Nullable<Text>,
        received_at -> Nullable<Timestamp>,
        quality -> Nullable<Text>,
        quality_recorded_at -> Nullable<Timestamp>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// A card's values: `panel` is JSON, analyte → [value, unit, reported_at, tested_at].
    dbs_card_values (card_id) {
        card_id -> Text,
        panel -> Text,
    }
}

diesel::table! {
    dbs_interpretations (id) {
        id -> Text,
        card_id -> Text,
        catalogue_version -> Text,
        outcome -> Text,
        tier -> Nullable<Text>,
        detail -> Text,
        interpreted_at -> Timestamp,
    }
}

diesel::table! {
    hearing_screens (id) {
        id -> Text,
        infant_id -> Text,
        hospital_id -> Text,
        stage -> Text,
        method -> Text,
        left_ear -> Text,
        right_ear -> Text,
        tested_at -> Timestamp,
        nicu_days -> Nullable<Integer>,
        risk_factors -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    cchd_screens (id) {
        id -> Text,
        infant_id -> Text,
        hospital_id -> Text,
        protocol -> Text,
        measured_at -> Timestamp,
        right_hand_spo2 -> Double,
        foot_spo2 -> Double,
        murmur_grade -> Nullable<Integer>,
        clinical_signs -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        auscultation_method -> Nullable<Text>,
        auscultation_device_id -> Nullable<Text>,
        auscultation_result -> Nullable<Text>,
        auscultation_grade -> Nullable<Integer>,
        auscultation_score -> Nullable<Double>,
    }
}

diesel::table! {
    screening_consents (id) {
        id -> Text,
        infant_id -> Text,
        hospital_id -> Text,
        programme -> Text,
        decision -> Text,
        guardian_name -> Text,
        signed_at -> Timestamp,
        recorded_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    hearing_interventions (id) {
        id -> Text,
        infant_id -> Text,
        hospital_id -> Text,
        kind -> Text,
        started_at -> Timestamp,
        provider -> Nullable<Text>,
        recorded_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(dbs_cards -> infants (infant_id));
diesel::joinable!(dbs_card_values -> dbs_cards (card_id));
diesel::joinable!(dbs_interpretations -> dbs_cards (card_id));
diesel::joinable!(hearing_screens -> infants (infant_id));
diesel::joinable!(cchd_screens -> infants (infant_id));
diesel::joinable!(screening_consents -> infants (infant_id));
diesel::joinable!(hearing_interventions -> infants (infant_id));

diesel::allow_tables_to_appear_in_same_query!(
    infants,
    catalogue_versions,
    dbs_cards,
    dbs_card_values,
    dbs_interpretations,
    hearing_screens,
    cchd_screens,
    screening_consents,
    hearing_interventions,
);

diesel::table! {
    due_policies (version) {
        version -> Text,
        effective_from -> Date,
        content -> Text,
        published_by -> Text,
        published_at -> Timestamp,
    }
}

diesel::table! {
    cases (id) {
        id -> Text,
        infant_id -> Text,
        hospital_id -> Text,
        programme -> Text,
        reason -> Text,
        state -> Text,
        tier -> Text,
        suspected -> Text,
        catalogue_version -> Text,
        policy_version -> Text,
        first_contact_due_at -> Timestamp,
        recall_due_at -> Timestamp,
        assignee -> Nullable<Text>,
        outcome -> Nullable<Text>,
        open_key -> Nullable<Text>,
        version -> Integer,
        opened_at -> Timestamp,
        updated_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
        contact_problem -> Bool,
        appointment_at -> Nullable<Timestamp>,
        appointment_place -> Nullable<Text>,
        next_rung -> Nullable<Text>,
        next_rung_at -> Nullable<Timestamp>,
        next_due_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    contact_attempts (id) {
        id -> Text,
        case_id -> Text,
        channel -> Text,
        outcome -> Text,
        contacted_by -> Text,
        attempted_at -> Timestamp,
        note -> Nullable<Text>,
        recorded_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    case_events (id) {
        id -> Text,
        case_id -> Text,
        kind -> Text,
        from_state -> Nullable<Text>,
        to_state -> Nullable<Text>,
        detail -> Text,
        actor -> Text,
        at -> Timestamp,
    }
}

diesel::joinable!(case_events -> cases (case_id));
diesel::joinable!(contact_attempts -> cases (case_id));
diesel::allow_tables_to_appear_in_same_query!(
    cases,
    case_events,
    infants,
    due_policies,
    contact_attempts
);

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> Timestamp,
        actor -> Text,
        request_id -> Nullable<Text>,
        entity -> Text,
        entity_id -> Text,
        action -> Text,
        changes -> Text,
        correlation_id -> Nullable<Text>,
    }
}

diesel::table! {
    infant_merges (id) {
        id -> Text,
        kept_id -> Text,
        merged_id -> Text,
        moved -> Text,
        merged_by -> Text,
        merged_at -> Timestamp,
        undone_by -> Nullable<Text>,
        undone_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    follow_up_visits (id) {
        id -> Text,
        case_id -> Text,
        infant_id -> Text,
        hospital_id -> Text,
        condition_code -> Text,
        due_at -> Timestamp,
        done_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        dedup_key -> Text,
        case_id -> Nullable<Text>,
        hospital_id -> Nullable<Text>,
        template -> Text,
        channel -> Text,
        recipient_role -> Text,
        recipient -> Text,
        locale -> Text,
        subject -> Nullable<Text>,
        body -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        provider_message_id -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    case_escalations (case_id, rung) {
        case_id -> Text,
        rung -> Text,
        fired_at -> Timestamp,
        recipients -> Text,
    }
}

diesel::table! {
    job_runs (name) {
        name -> Text,
        last_started_at -> Nullable<Timestamp>,
        last_finished_at -> Nullable<Timestamp>,
        last_ok -> Nullable<Bool>,
        last_report -> Nullable<Text>,
        last_server -> Nullable<Text>,
    }
}

diesel::table! {
    job_ticks (job, tick_at) {
        job -> Text,
        tick_at -> Timestamp,
        server -> Text,
        claimed_at -> Timestamp,
    }
}

diesel::joinable!(notifications -> cases (case_id));
diesel::allow_tables_to_appear_in_same_query!(notifications, cases, case_escalations);
// The escalation sweep loads a case with its infant and birth hospital in one query.
diesel::allow_tables_to_appear_in_same_query!(cases, hospitals);

diesel::table! {
    web_sessions (id_hash) {
        id_hash -> Text,
        user_id -> Text,
        token_version -> Integer,
        csrf_token -> Text,
        locale -> Nullable<Text>,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        idle_expires_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(web_sessions -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(web_sessions, users);

diesel::table! {
    infant_phones (phone, infant_id) {
        phone -> Text,
        infant_id -> Text,
    }
}

diesel::joinable!(infant_phones -> infants (infant_id));
diesel::allow_tables_to_appear_in_same_query!(infant_phones, infants);

diesel::table! {
    hl7_messages (id) {
        id -> Text,
        sending_facility -> Text,
        control_id -> Text,
        received_by -> Text,
        received_at -> Timestamp,
        ack_code -> Text,
        ack -> Text,
        cards -> Integer,
        rejected -> Integer,
        raw -> Text,
    }
}

diesel::table! {
    hl7_cards (sending_facility, control_id, barcode) {
        sending_facility -> Text,
        control_id -> Text,
        barcode -> Text,
        stored_at -> Timestamp,
        card_id -> Text,
        lab_abnormal -> Bool,
        lab_flags -> Text,
        outcome -> Text,
        disagrees -> Bool,
    }
}
diesel::allow_tables_to_appear_in_same_query!(hl7_cards, dbs_cards);

diesel::table! {
    management_plans (version) {
        version -> Text,
        effective_from -> Date,
        content -> Text,
        published_by -> Text,
        published_at -> Timestamp,
    }
}

diesel::table! {
    management_episodes (id) {
        id -> Text,
        infant_id -> Text,
        hospital_id -> Text,
        case_id -> Nullable<Text>,
        origin -> Text,
        condition_code -> Text,
        plan_version -> Text,
        plan_code -> Text,
        state -> Text,
        open_key -> Nullable<Text>,
        centre -> Text,
        diagnosed_at -> Timestamp,
        treatment_due_at -> Nullable<Timestamp>,
        treatment_started_at -> Nullable<Timestamp>,
        next_due_at -> Nullable<Timestamp>,
        flags -> Integer,
        reported_at -> Nullable<Timestamp>,
        report_reference -> Nullable<Text>,
        close_reason -> Nullable<Text>,
        closure -> Nullable<Text>,
        closed_at -> Nullable<Timestamp>,
        version -> Integer,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        treatment_escalated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    management_contacts (id) {
        id -> Text,
        episode_id -> Text,
        code -> Text,
        kind -> Text,
        seq -> Integer,
        due_at -> Timestamp,
        window_start -> Timestamp,
        window_end -> Timestamp,
        done_at -> Nullable<Timestamp>,
        measurements -> Nullable<Text>,
        off_target -> Nullable<Text>,
        note -> Nullable<Text>,
        recorded_by -> Nullable<Text>,
        cancelled_at -> Nullable<Timestamp>,
        next_rung -> Nullable<Text>,
        next_rung_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    management_contact_escalations (contact_id, rung) {
        contact_id -> Text,
        rung -> Text,
        fired_at -> Timestamp,
        recipients -> Text,
    }
}

diesel::table! {
    management_treatments (id) {
        id -> Text,
        episode_id -> Text,
        kind -> Text,
        regimen -> Text,
        prescriber -> Text,
        started_at -> Timestamp,
        recorded_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    management_events (id) {
        id -> Text,
        episode_id -> Text,
        kind -> Text,
        detail -> Text,
        actor -> Text,
        at -> Timestamp,
    }
}

diesel::joinable!(management_episodes -> infants (infant_id));
diesel::joinable!(management_episodes -> hospitals (hospital_id));
diesel::joinable!(management_contacts -> management_episodes (episode_id));
diesel::joinable!(management_contact_escalations -> management_contacts (contact_id));
diesel::allow_tables_to_appear_in_same_query!(
    management_episodes,
    management_contacts,
    management_treatments,
    management_events,
    management_contact_escalations,
);
diesel::allow_tables_to_appear_in_same_query!(management_episodes, infants);
diesel::allow_tables_to_appear_in_same_query!(management_episodes, hospitals);
diesel::allow_tables_to_appear_in_same_query!(management_episodes, cases);
