package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/capcenter/capcenter/client"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

type searchOptions struct {
	global  *globalOptions
	kind    string
	keyword string
	sort    string
	limit   int
	output  string
}

func newSearchCmd(s streams, g *globalOptions) *cobra.Command {
	o := &searchOptions{global: g}
	cmd := &cobra.Command{
		Use:   "search [QUERY]",
		Short: "Search the registry's catalog",
		Long: `Search lists the capabilities whose name, description or keywords hold
every word of QUERY (all of them without one), narrowed by --kind and
--keyword, sorted by name or by when a version was last published. It
fetches pages until --limit results.`,
		Example: "  capctl search scale --kind trait\n  capctl search --sort updated --limit 10",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			query := ""
			if len(args) == 1 {
				query = args[0]
			}
			return o.run(cmd.Context(), s, query)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.kind, "kind", "", "only capabilities of this kind: component, trait, policy or controller")
	f.StringVar(&o.keyword, "keyword", "", "only capabilities with this `keyword`")
	f.StringVar(&o.sort, "sort", "name", "order: name, or updated (most recent first)")
	f.IntVar(&o.limit, "limit", 50, "at most this many results; 0 for all")
	f.StringVarP(&o.output, "output", "o", formatTable, "output format: table, json or yaml")
	return cmd
}

func (o *searchOptions) run(ctx context.Context, s streams, text string) error {
	q, err := o.query(text)
	if err != nil {
		return err
	}
	c, err := o.global.dial(s)
	if err != nil {
		return err
	}
	defer c.Close()
	var found []*capcenterv1.Capability
	for cp, err := range c.Capabilities(ctx, q) {
		if err != nil {
			return err
		}
		found = append(found, cp)
		if o.limit > 0 && len(found) == o.limit {
			break
		}
	}
	if o.output != formatTable {
		return writeProtoList(s, o.output, found)
	}
	t := newTable(s.out, "NAME", "KIND", "LATEST", "DESCRIPTION")
	for _, cp := range found {
		t.row(cp.GetCapability(), kindName(cp.GetKind()), cp.GetLatestVersion(), cp.GetDescription())
	}
	return t.flush()
}

// query checks the flags and turns them into a client.Query.
func (o *searchOptions) query(text string) (client.Query, error) {
	if err := checkFormat(o.output, formatTable, formatJSON, formatYAML); err != nil {
		return client.Query{}, err
	}
	if o.limit < 0 {
		return client.Query{}, fmt.Errorf("--limit %d: want 0 or more", o.limit)
	}
	kind, err := parseKind(o.kind)
	if err != nil {
		return client.Query{}, err
	}
	q := client.Query{Text: text, Kind: kind, Keyword: o.keyword}
	switch o.sort {
	case "name":
		q.OrderBy = "name"
	case "updated":
		q.OrderBy = "update_time desc"
	default:
		return client.Query{}, fmt.Errorf("--sort %q: want name or updated", o.sort)
	}
	if o.limit > 0 {
		q.PageSize = int32(min(o.limit, 1000))
	}
	return q, nil
}
