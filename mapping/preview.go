package mapping

import "errors"

// PreviewRow is one sample record's outcome under a mapping.
type PreviewRow struct {
	// ExternalID is the sample record's ExternalID.
	ExternalID string `json:"external_id"`
	// Profile is the mapped profile; empty when the record failed to map.
	Profile Profile `json:"profile"`
	// Error, when not empty, is why the record failed to map (Profile is
	// then empty), and Field the profile field that failed ("department",
	// "tags.team"); FieldError is the error itself.
	Error string `json:"error,omitempty"`
	// Field is the profile field that failed; empty when the record mapped,
	// or when the mapper's error was not a *FieldError.
	Field string `json:"field,omitempty"`
	// FieldError is the failure as a *FieldError; nil when the record
	// mapped or the error was of another type. Not serialized.
	FieldError *FieldError `json:"-"`
}

// MaxPreviewSamples is the most records Preview maps; it previews the first
// MaxPreviewSamples of a longer list.
const MaxPreviewSamples = 1000

// Preview maps sample records with m and returns one row per record, in
// order: its profile, or why it failed. It touches no store; see
// dirsync.Preview for what a changed mapping would change in one.
func Preview(m Mapper, samples []Record) []PreviewRow {
	if len(samples) > MaxPreviewSamples {
		samples = samples[:MaxPreviewSamples]
	}
	rows := make([]PreviewRow, len(samples))
	for i := range samples {
		rows[i].ExternalID = samples[i].ExternalID
		p, err := m.Map(&samples[i])
		if err != nil {
			rows[i].Error = err.Error()
			var fe *FieldError
			if errors.As(err, &fe) {
				rows[i].FieldError, rows[i].Field = fe, fe.Field
			}
			continue
		}
		rows[i].Profile = p
	}
	return rows
}
