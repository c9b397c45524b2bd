"""Circuit mechanisms: dis-inhibitory sign control, active dendrites (SDR theory), gain control, bilateral control."""
