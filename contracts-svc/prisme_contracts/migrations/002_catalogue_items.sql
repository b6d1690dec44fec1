-- C1: what each catalogue item is, in the words of the terms (seed/000_*.txt), and the backup
-- the "SAV illimité + sauvegarde" offer is named after (not the PRISME-only 1 TB HDS cloud backup).

CREATE TABLE catalogue_items (
    code    text PRIMARY KEY,
    label   text NOT NULL
);

INSERT INTO catalogue_items (code, label) VALUES
('remote_support_unlimited', 'SAV illimité en distanciel (lundi-vendredi 7h-20h, samedi 7h-16h, dimanche astreinte 9h-12h)'),
('system_network_maintenance', 'Maintenance informatique système et réseaux'),
('backup', 'Sauvegarde'),
('preventive_maintenance', 'Maintenance préventive (antivirus, mises à jour, contrôles de sécurité et de performance)'),
('gdpr_compliance', 'Prévention, vérification et mise en conformité RGPD'),
('video_recordings', 'Intervention à distance disponible en téléchargement vidéo'),
('microsoft_365', 'Suite bureautique Microsoft 365 (Word, Excel, PowerPoint, Outlook)'),
('cloud_backup', 'Sauvegarde cloud 1 To HDS (copie miroir quotidienne, rétroaction 30 jours)'),
('surveillance_electrical_maintenance', 'Maintenance caméra de surveillance, alarme et protection électrique'),
('peripheral_imaging_phone_maintenance', 'Maintenance imprimantes, imagerie médicale, standard téléphonique virtuel'),
('reinforced_antivirus', 'Protection antivirus et ransomware renforcée'),
('teletransmission_mailbox', 'BAL de télétransmission + mises à jour des tables de convention sur demande'),
('payment_terminal_maintenance', 'Maintenance du terminal de paiement et des lecteurs de carte à puce');

UPDATE offers SET includes = array_append(includes, 'backup')
 WHERE code = 'sav_sauvegarde' AND NOT ('backup' = ANY (includes));
