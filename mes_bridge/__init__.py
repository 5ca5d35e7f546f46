"""Hunar MES bridge: ISA-95 job packets to the shop floor and status back.

Modules: ``packets`` (B2MML + JSON job orders), ``traveler`` (HTML/PDF),
``transports`` (OPC UA, MQTT, OctoPrint, webhook, hot folder behind one interface),
``dispatch`` (outbox delivery loop), ``intake`` (status events). It never writes the
database and never imports ``orders`` or ``web``.

The Business To Manufacturing Markup Language (B2MML) is used courtesy of MESA
International.
"""
