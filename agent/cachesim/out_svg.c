// SPDX-License-Identifier: GPL-2.0-only
/*
 * --plot FILE.svg: miss ratio against cache size, one line per policy.
 * Hand-written SVG keeps the tool free of a plotting dependency; the file
 * opens in any browser.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "cachesim/sim.h"

#define W  800
#define H  500
#define ML 70
#define MR 150
#define MT 40
#define MB 60

static const char *const colors[] = {
	"#d62728", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
	"#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#000000",
};

static void escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else
			fputc(*s, f);
	}
}

int keel_sim_out_svg(const char *path, const struct keel_sim_report *r)
{
	double xmax = 0, ymin = 1, ymax = 0;
	const char *pols[32];
	size_t np = 0;
	FILE *f;

	for (size_t i = 0; i < r->nres; i++) {
		size_t j;

		if ((double)r->res[i].size > xmax)
			xmax = (double)r->res[i].size;
		if (r->res[i].miss_ratio < ymin)
			ymin = r->res[i].miss_ratio;
		if (r->res[i].miss_ratio > ymax)
			ymax = r->res[i].miss_ratio;
		for (j = 0; j < np && strcmp(pols[j], r->res[i].policy); j++)
			;
		if (j == np && np < 32)
			pols[np++] = r->res[i].policy;
	}
	ymin = floor(ymin * 10) / 10;
	ymax = ceil(ymax * 10) / 10;
	if (ymax <= ymin)
		ymax = ymin + 0.1;
	if (xmax <= 0)
		xmax = 1;
	f = fopen(path, "we");
	if (!f)
		return -errno;
#define PX(x) (ML + (double)(x) / xmax * (W - ML - MR))
#define PY(y) (MT + (ymax - (y)) / (ymax - ymin) * (H - MT - MB))
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		W, H);
	fprintf(f,
		"<text x=\"%d\" y=\"22\" font-size=\"14\">miss ratio vs cache "
		"size: ",
		ML);
	escape(f, r->trace);
	fprintf(f, " (%s mode, %llu unique keys)</text>\n", r->mode, (unsigned long long)r->unique);
	for (int t = 0; t <= 5; t++) {
		double y = ymin + (ymax - ymin) * t / 5, x = xmax * t / 5;

		fprintf(f,
			"<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
			"stroke=\"#ddd\"/><text x=\"%d\" y=\"%.1f\" "
			"text-anchor=\"end\">%.2f</text>\n",
			ML, W - MR, PY(y), PY(y), ML - 6, PY(y) + 4, y);
		fprintf(f,
			"<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">"
			"%.0f</text>\n",
			PX(x), H - MB + 18, x);
	}
	fprintf(f,
		"<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
		"fill=\"none\" stroke=\"black\"/>\n",
		ML, MT, W - ML - MR, H - MT - MB);
	fprintf(f,
		"<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">cache size "
		"(objects)</text>\n",
		(W - MR + ML) / 2, H - 18);
	fprintf(f,
		"<text transform=\"translate(18,%d) rotate(-90)\" "
		"text-anchor=\"middle\">miss ratio</text>\n",
		(H - MB + MT) / 2);
	for (size_t p = 0; p < np; p++) {
		const char *c = colors[p % (sizeof(colors) / sizeof(*colors))];
		bool bound = !strcmp(pols[p], "belady");

		fprintf(f,
			"<polyline fill=\"none\" stroke=\"%s\" "
			"stroke-width=\"%s\"%s points=\"",
			c, !strcmp(pols[p], "keel") ? "3" : "1.5",
			bound ? " stroke-dasharray=\"6,4\"" : "");
		for (size_t i = 0; i < r->nres; i++)
			if (!strcmp(r->res[i].policy, pols[p]))
				fprintf(f, "%.1f,%.1f ", PX(r->res[i].size),
					PY(r->res[i].miss_ratio));
		fprintf(f, "\"/>\n");
		for (size_t i = 0; i < r->nres; i++)
			if (!strcmp(r->res[i].policy, pols[p]))
				fprintf(f,
					"<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
					"fill=\"%s\"/>\n",
					PX(r->res[i].size), PY(r->res[i].miss_ratio), c);
		fprintf(f,
			"<line x1=\"%d\" x2=\"%d\" y1=\"%zu\" y2=\"%zu\" "
			"stroke=\"%s\" stroke-width=\"3\"/><text x=\"%d\" "
			"y=\"%zu\">%s</text>\n",
			W - MR + 12, W - MR + 32, MT + 10 + p * 20, MT + 10 + p * 20, c,
			W - MR + 38, MT + 14 + p * 20, pols[p]);
	}
	fprintf(f, "</svg>\n");
#undef PX
#undef PY
	if (fclose(f))
		return -errno;
	return 0;
}
