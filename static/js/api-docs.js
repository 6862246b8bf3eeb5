// /docs: start Swagger UI (loaded by the page, from the installed package) on this server's OpenAPI
// schema. A file and not an inline script, so the page keeps the app's CSP.
window.SwaggerUIBundle({
  url: document.body.dataset.openapi,
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
