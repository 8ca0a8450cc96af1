package io.tributary.enrich;

import io.tributary.common.http.ContentDecoding;
import io.tributary.common.http.HttpBase;
import io.tributary.common.http.Responses;
import io.tributary.common.pipeline.Lookup;
import io.tributary.common.pipeline.Pipeline;
import io.vertx.core.AsyncResult;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.streams.ReadStream;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reference data management: {@code PUT/GET/DELETE /reference/{lookup}/{key}} for one record or set
 * member, and {@code POST /reference/{lookup}} for a streaming bulk load of NDJSON or CSV.
 */
final class ReferenceHandler {

  private static final Logger LOG = LoggerFactory.getLogger(ReferenceHandler.class);

  private final Pipeline pipeline;
  private final ReferenceStore store;
  private final LookupResolver resolver;

  ReferenceHandler(Pipeline pipeline, ReferenceStore store, LookupResolver resolver) {
    this.pipeline = pipeline;
    this.store = store;
    this.resolver = resolver;
  }

  void put(RoutingContext ctx) {
    Lookup lookup = lookup(ctx);
    if (lookup == null) {
      return;
    }
    String key = ctx.pathParam("key");
    if (lookup.isSet()) {
      store.addMember(lookup, key).onComplete(ar -> answer(ctx, ar.map(v -> new JsonObject().put("lookup", lookup.name())
          .put("key", key).put("member", true)), 200));
      resolver.invalidate(lookup, key);
      return;
    }
    JsonObject body;
    try {
      Buffer bytes = HttpBase.body(ctx);
      body = bytes == null ? null : new JsonObject(bytes);
    } catch (RuntimeException e) {
      body = null;
    }
    if (body == null || body.isEmpty()) {
      Responses.error(ctx, 400, "the body must be a JSON object of the record's fields, e.g. {\"category\": \"food\"}");
      return;
    }
    Map<String, String> fields = new LinkedHashMap<>();
    body.forEach(e -> {
      if (e.getValue() != null) {
        fields.put(e.getKey(), e.getValue() instanceof JsonObject || e.getValue() instanceof JsonArray
            ? Json.encode(e.getValue()) : String.valueOf(e.getValue()));
      }
    });
    store.putRecord(lookup, key, fields).onComplete(ar -> {
      resolver.invalidate(lookup, key);
      answer(ctx, ar.map(v -> new JsonObject().put("lookup", lookup.name()).put("key", key).put("fields", new JsonObject(new LinkedHashMap<>(fields)))), 200);
    });
  }

  void get(RoutingContext ctx) {
    Lookup lookup = lookup(ctx);
    if (lookup == null) {
      return;
    }
    String key = ctx.pathParam("key");
    if (lookup.isSet()) {
      store.isMember(lookup, key).onComplete(ar -> {
        if (ar.succeeded() && !ar.result()) {
          Responses.error(ctx, 404, "'" + key + "' is not in " + lookup.name());
        } else {
          answer(ctx, ar.map(v -> new JsonObject().put("lookup", lookup.name()).put("key", key).put("member", true)), 200);
        }
      });
      return;
    }
    store.getRecord(lookup, key).onComplete(ar -> {
      if (ar.succeeded() && ar.result() == null) {
        Responses.error(ctx, 404, "no record '" + key + "' in " + lookup.name());
      } else {
        answer(ctx, ar.map(fields -> new JsonObject().put("lookup", lookup.name()).put("key", key)
            .put("fields", new JsonObject(new LinkedHashMap<>(fields)))), 200);
      }
    });
  }

  void delete(RoutingContext ctx) {
    Lookup lookup = lookup(ctx);
    if (lookup == null) {
      return;
    }
    String key = ctx.pathParam("key");
    resolver.invalidate(lookup, key);
    (lookup.isSet() ? store.removeMember(lookup, key) : store.deleteRecord(lookup, key)).onComplete(ar -> {
      if (ar.failed()) {
        storeDown(ctx, ar.cause());
      } else if (ar.result()) {
        ctx.response().setStatusCode(204).end();
      } else {
        Responses.error(ctx, 404, "no '" + key + "' in " + lookup.name());
      }
    });
  }

  void bulkLoad(RoutingContext ctx) {
    Lookup lookup = lookup(ctx);
    if (lookup == null) {
      return;
    }
    String type = String.valueOf(ctx.request().getHeader("Content-Type")).split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
    BulkLoader.Format format = switch (type) {
      case "text/csv" -> BulkLoader.Format.CSV;
      case "application/x-ndjson", "application/ndjson", "application/jsonl" -> BulkLoader.Format.NDJSON;
      default -> null;
    };
    if (format == null) {
      Responses.error(ctx, 415, "send text/csv (a header with a 'key' column) or application/x-ndjson (objects with \"key\")");
      return;
    }
    ReadStream<Buffer> body;
    try {
      body = ContentDecoding.decoding(ctx.request().getHeader(HttpHeaders.CONTENT_ENCODING), ctx.request());
    } catch (ContentDecoding.Refused e) {
      Responses.error(ctx, e.status(), e.getMessage());
      return;
    }
    long start = System.nanoTime();
    new BulkLoader(store, lookup, format).load(body).onComplete(ar -> {
      if (ar.failed()) {
        if (ar.cause() instanceof IllegalArgumentException) {
          Responses.error(ctx, 400, ar.cause().getMessage());
        } else {
          storeDown(ctx, ar.cause());
        }
        return;
      }
      BulkLoader.Report report = ar.result();
      LOG.info("bulk load into {}: {} rows loaded, {} rejected in {} ms", lookup.name(), report.loaded(), report.rejected(),
          (System.nanoTime() - start) / 1_000_000);
      Responses.json(ctx, 200, report.toJson().put("lookup", lookup.name()));
    });
  }

  private Lookup lookup(RoutingContext ctx) {
    String name = ctx.pathParam("lookup");
    Lookup lookup = pipeline.lookup(name).orElse(null);
    if (lookup == null) {
      Responses.error(ctx, 404, "no look-up named '" + name + "'; this pipeline has "
          + pipeline.lookups().stream().map(Lookup::name).toList());
    }
    return lookup;
  }

  private static void answer(RoutingContext ctx, AsyncResult<JsonObject> result, int status) {
    if (result.succeeded()) {
      Responses.json(ctx, status, result.result());
    } else if (result.cause() instanceof IllegalArgumentException refused) {
      Responses.error(ctx, 400, refused.getMessage());
    } else {
      storeDown(ctx, result.cause());
    }
  }

  private static void storeDown(RoutingContext ctx, Throwable cause) {
    LOG.warn("reference store call failed: {}", cause.getMessage());
    Responses.unavailable(ctx, 5, "the reference store did not answer: " + cause.getMessage());
  }
}
