package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/client"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

type showOptions struct {
	global *globalOptions
	output string
}

func newShowCmd(s streams, g *globalOptions) *cobra.Command {
	o := &showOptions{global: g}
	cmd := &cobra.Command{
		Use:   "show NAME[@VERSION]",
		Short: "Show a version: metadata, digest, state, parameters and README",
		Long: `Show prints one version (the latest one that is not yanked when no version
is given): its metadata, manifest digest, dependencies, whether it is yanked
or deprecated, a table of its parameters from the JSON Schema, and its
README.`,
		Example: "  capctl show webservice\n  capctl show acme/gateway@1.4.0 -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args[0])
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", formatTable, "output format: table, json or yaml")
	return cmd
}

func (o *showOptions) run(ctx context.Context, s streams, ref string) error {
	if err := checkFormat(o.output, formatTable, formatJSON, formatYAML); err != nil {
		return err
	}
	name, version, err := client.ParseRef(ref)
	if err != nil {
		return err
	}
	c, err := o.global.dial(s)
	if err != nil {
		return err
	}
	defer c.Close()
	v, err := c.GetVersion(ctx, name, version)
	if err != nil {
		return err
	}
	if o.output != formatTable {
		return writeProto(s, o.output, v)
	}
	return writeVersion(s.out, v)
}

// writeVersion prints a version for people.
func writeVersion(w io.Writer, v *capcenterv1.Version) error {
	t := newTable(w, "Name:", v.GetCapability())
	t.row("Version:", v.GetVersion())
	t.row("Kind:", kindName(v.GetKind()))
	t.row("Description:", v.GetDescription())
	t.row("Digest:", v.GetDigest())
	t.row("Size:", fmt.Sprintf("%d bytes", v.GetSize()))
	t.row("Published:", formatTime(v.GetCreateTime()))
	t.row("State:", versionState(v))
	optionalRow(t, "Keywords:", strings.Join(v.GetKeywords(), ", "))
	optionalRow(t, "Applies to:", strings.Join(v.GetAppliesTo(), ", "))
	optionalRow(t, "Kubernetes:", v.GetKubernetesRange())
	optionalRow(t, "Source:", v.GetSource())
	if err := t.flush(); err != nil {
		return err
	}
	if deps := v.GetDependencies(); len(deps) > 0 {
		fmt.Fprintln(w, "\nDependencies:")
		dt := newTable(w, "  NAME", "VERSION")
		for _, d := range deps {
			dt.row("  "+d.GetCapability(), d.GetVersionRange())
		}
		if err := dt.flush(); err != nil {
			return err
		}
	}
	if sigs := v.GetSignatures(); len(sigs) > 0 {
		fmt.Fprintln(w, "\nSignatures (as the registry lists them; capctl verify checks them):")
		st := newTable(w, "  ROLE", "SIGNER", "FINGERPRINT (SHA-256)", "SIGNED")
		for _, sig := range sigs {
			st.row("  "+roleName(sig.GetRole()), sig.GetSigner(), sig.GetFingerprint(), formatTime(sig.GetSignTime()))
		}
		if err := st.flush(); err != nil {
			return err
		}
	}
	if err := writeVersionParameters(w, v); err != nil {
		return err
	}
	if readme := strings.TrimSpace(v.GetReadme()); readme != "" {
		fmt.Fprintf(w, "\nREADME:\n\n%s\n", readme)
	}
	return nil
}

func optionalRow(t *table, label, value string) {
	if value != "" {
		t.row(label, value)
	}
}

// writeVersionParameters prints the parameter table of a version's schema,
// when it has parameters.
func writeVersionParameters(w io.Writer, v *capcenterv1.Version) error {
	if v.GetParameterSchema() == nil {
		return nil
	}
	data, err := protojson.Marshal(v.GetParameterSchema())
	if err != nil {
		return err
	}
	var schema capabilities.Schema
	if err := json.Unmarshal(data, &schema); err != nil {
		return fmt.Errorf("%s: parameter schema: %w", client.Ref(v.GetCapability(), v.GetVersion()), err)
	}
	if len(schema.Properties) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nParameters:")
	return writeParameterTable(w, &schema)
}
